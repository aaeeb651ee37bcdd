"""Routes of the account area: admin (API.md "Identity and account")."""

from fastapi import APIRouter

router = APIRouter(tags=["account"])
