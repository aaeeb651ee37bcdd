"""Routes of the account area: collaborators (API.md "Identity and account")."""

from fastapi import APIRouter

router = APIRouter(tags=["account"])
