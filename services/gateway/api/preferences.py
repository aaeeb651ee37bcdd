"""Routes of the account area: preferences (API.md "Identity and account")."""

from fastapi import APIRouter

router = APIRouter(tags=["account"])
