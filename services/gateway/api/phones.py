"""Routes of the account area: phones (API.md "Identity and account")."""

from fastapi import APIRouter

router = APIRouter(tags=["account"])
