"""Routes of the account area: audit_log (API.md "Identity and account")."""

from fastapi import APIRouter

router = APIRouter(tags=["account"])
