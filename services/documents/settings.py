"""Settings of the documents service: the shared :class:`~shared.settings.PortalSettings` plus its own."""

from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import PortalSettings

SERVICE = "documents"


class Settings(PortalSettings):
    """The documents service's settings (environment variables ``PORTAL_*``).

    Storage: ``storage_backend`` ``local`` keeps objects under ``<data_dir>/objects``; ``s3`` keeps them in
    ``s3_bucket`` of the S3-compatible server at ``s3_endpoint`` (``host:port``, TLS when ``s3_secure``), and a
    download answers 307 to a URL signed for ``signed_url_seconds`` on ``s3_public_endpoint`` (an address clients
    outside the deployment's network reach; ``s3_endpoint`` when unset). ``s3_region`` is given so that signing never
    asks the server for it.

    Shipping labels name ``lab_address`` (lines: the lab's name first) as the recipient.
    """

    storage_backend: Literal["local", "s3"] = "local"
    s3_endpoint: str = "127.0.0.1:9000"
    s3_public_endpoint: str | None = None
    s3_secure: bool = False
    s3_public_secure: bool | None = None
    s3_access_key: str = "portal"
    s3_secret_key: SecretStr = SecretStr("portal-development-secret")
    s3_bucket: str = "portal-documents"
    s3_region: str = "us-east-1"
    signed_url_seconds: int = Field(300, ge=10, le=3600)

    lab_address: list[str] = Field(
        default_factory=lambda: ["Doctor Portal Lab", "Receiving, Dock 2", "12 Rue des Aligneurs", "69007 Lyon", "FR"],
        min_length=2,
    )
