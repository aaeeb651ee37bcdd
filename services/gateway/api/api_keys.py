"""Routes of the account area: api_keys (API.md "Identity and account")."""

from fastapi import APIRouter

router = APIRouter(tags=["account"])
