"""Routes of the account area: practices (API.md "Identity and account")."""

from fastapi import APIRouter

router = APIRouter(tags=["account"])
