"""docker-compose.yml and deploy/ checked against the code, without Docker.

The compose file is parsed (YAML anchors resolved), its variables are filled in from ``deploy/.env.example``, and
what it says is compared with what the code really reads: the fields of ``PortalSettings``, the service modules,
the migration entry point, the metrics the services export. The Kubernetes manifests get the same checks.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import opentelemetry.environment_variables
import opentelemetry.sdk.environment_variables
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from pydantic import AliasChoices
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

import shared.metrics
from services.notifications.settings import Settings as NotificationsSettings
from shared.cli.main import app as cli
from shared.settings import SERVICES, PortalSettings, get_settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
INFRASTRUCTURE = ("rabbitmq", "postgres", "minio", "minio-init", "mailpit", "otel-collector", "prometheus", "grafana")
OPS_UIS = {"rabbitmq": 15672, "minio": 9001, "mailpit": 8025, "prometheus": 9090, "grafana": 3000}
BUILD = {"context": ".", "dockerfile": "deploy/Dockerfile"}
VARIABLE = re.compile(r"\$\{(\w+)([^}]*)\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker-compose.yml as compose sees it before interpolation (anchors and merge keys resolved)."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    """The variables of deploy/.env.example."""
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def interpolate(value: str, env: dict[str, str]) -> str:
    """``value`` with every ``${NAME...}`` replaced from ``env`` (every variable must be there)."""
    return VARIABLE.sub(lambda match: env[match.group(1)], value)


def use_environment(monkeypatch: pytest.MonkeyPatch, definition: dict[str, Any], env: dict[str, str]) -> None:
    """Replace the process's settings variables with the container's (interpolated from ``env``)."""
    for variable in list(os.environ):
        if variable.startswith(("PORTAL_", "OTEL_")) or variable == "RABBITMQ_URL":
            monkeypatch.delenv(variable)
    for variable, value in definition["environment"].items():
        monkeypatch.setenv(variable, interpolate(str(value), env))


def app_workloads(compose: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(compose name, portal service, definition) of each service and each migration job."""
    for service in SERVICES:
        yield service, service, compose["services"][service]
        yield f"migrate-{service}", service, compose["services"][f"migrate-{service}"]


def depends_on(definition: dict[str, Any]) -> dict[str, str]:
    """A ``depends_on`` in either syntax, as {dependency: condition}."""
    found = definition.get("depends_on", {})
    if isinstance(found, list):
        return {name: "service_started" for name in found}
    return {name: spec.get("condition", "service_started") for name, spec in found.items()}


def published(definition: dict[str, Any]) -> list[tuple[str, int]]:
    """(host address, host port) of each published port; an empty address means every interface."""
    found = []
    for port in definition.get("ports", []):
        if isinstance(port, dict):
            found.append((port.get("host_ip", ""), int(port["published"])))
            continue
        parts = str(port).split(":")
        if len(parts) == 1:
            found.append(("", 0))  # an ephemeral host port, on every interface
        else:
            found.append((parts[0] if len(parts) == 3 else "", int(parts[-2])))
    return found


def known_variables() -> set[str]:
    """Every environment variable the services' settings read (``PortalSettings`` and each service's own), plus the
    standard OpenTelemetry ones."""
    names = set()
    fields = dict(PortalSettings.model_fields)
    for service in SERVICES:
        fields.update(importlib.import_module(f"services.{service}.settings").Settings.model_fields)
    for field_name, field in fields.items():
        names.add(f"PORTAL_{field_name.upper()}")
        if isinstance(field.validation_alias, AliasChoices):
            names.update(choice for choice in field.validation_alias.choices if isinstance(choice, str))
        elif isinstance(field.validation_alias, str):
            names.add(field.validation_alias)
    for module in (opentelemetry.environment_variables, opentelemetry.sdk.environment_variables):
        names.update(value for key, value in vars(module).items() if key.startswith("OTEL_") and isinstance(value, str))
    return names


def service_command(service: str) -> list[str]:
    """The command that runs ``service`` in the image."""
    return ["uvicorn", f"services.{service}.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]


def migrated_services(command: list[str]) -> list[str]:
    """The services a ``portal migrate <service>...`` command migrates."""
    assert command[:2] == ["portal", "migrate"], command
    return command[2:]


def test_every_service_and_the_infrastructure_are_declared(compose: dict[str, Any]) -> None:
    """The five services, a migration job each, and every infrastructure piece the architecture names."""
    expected = {*SERVICES, *(f"migrate-{service}" for service in SERVICES), *INFRASTRUCTURE}
    assert set(compose["services"]) == expected
    assert compose["services"]["rabbitmq"]["image"].startswith("rabbitmq:3.13-management")
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["minio"]["command"] == ["server", "/data", "--console-address", ":9001"]
    assert compose["services"]["minio-init"]["command"][-1] == "portal/portal-documents"


def test_every_app_container_comes_from_the_one_dockerfile(compose: dict[str, Any]) -> None:
    """Services and migration jobs share one build (the anchor resolved) and one image; infrastructure builds none."""
    builds = {name: definition.get("build") for name, _, definition in app_workloads(compose)}
    assert all(build == BUILD for build in builds.values()), builds
    assert len({definition["image"] for _, _, definition in app_workloads(compose)}) == 1
    assert not [name for name in INFRASTRUCTURE if "build" in compose["services"][name]]
    assert (ROOT / BUILD["dockerfile"]).is_file()


def test_only_the_gateway_is_published_and_the_ops_uis_only_on_localhost(compose: dict[str, Any]) -> None:
    """The gateway publishes 8000 on every interface; the operations UIs and MinIO's S3 API only on 127.0.0.1;
    nothing else at all."""
    ports = {name: published(definition) for name, definition in compose["services"].items()}
    assert ports.pop("gateway") == [("", 8000)]
    assert ports["minio"].pop(0) == ("127.0.0.1", 9000)  # the S3 API signed download URLs point at
    for name, port in OPS_UIS.items():
        assert ports.pop(name) == [("127.0.0.1", port)], name
    assert {name: found for name, found in ports.items() if found} == {}


def test_services_run_their_module_and_report_readiness(compose: dict[str, Any]) -> None:
    """Each service runs its own app factory on 8000 (a module that exists) and is healthy only when /readyz is."""
    for service in SERVICES:
        definition = compose["services"][service]
        assert definition["command"] == service_command(service)
        assert callable(importlib.import_module(f"services.{service}.app").create_app)
        test = definition["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"] and "http://127.0.0.1:8000/readyz" in test[3], service
        compile(test[3], "healthcheck", "exec")


def test_services_wait_for_their_migration_and_the_broker(compose: dict[str, Any]) -> None:
    """A service starts after its own migration job succeeded and once RabbitMQ is healthy (documents: the bucket)."""
    for service in SERVICES:
        needs = depends_on(compose["services"][service])
        assert needs[f"migrate-{service}"] == "service_completed_successfully", service
        assert needs["rabbitmq"] == "service_healthy", service
    assert depends_on(compose["services"]["documents"])["minio-init"] == "service_completed_successfully"
    assert depends_on(compose["services"]["minio-init"])["minio"] == "service_healthy"
    for name in ("rabbitmq", "postgres", "minio"):
        assert compose["services"][name]["healthcheck"]["test"], name
    assert "pg_isready" in compose["services"]["postgres"]["healthcheck"]["test"]
    assert compose["services"]["rabbitmq"]["healthcheck"]["test"][1:] == ["rabbitmq-diagnostics", "-q", "ping"]


def test_migration_jobs_wait_for_postgres_and_migrate_their_own_service(compose: dict[str, Any]) -> None:
    """Each job waits for a healthy PostgreSQL, runs once, and upgrades exactly its own service."""
    for service in SERVICES:
        job = compose["services"][f"migrate-{service}"]
        assert depends_on(job) == {"postgres": "service_healthy"}, service
        assert job["restart"] == "no"
        assert migrated_services(job["command"]) == [service]


def test_migration_commands_really_migrate(
    compose: dict[str, Any], example_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each job's command, run with the job's own environment (production, example secrets) but a SQLite database,
    creates that service's tables: the command exists and the environment validates."""
    for name, service, job in app_workloads(compose):
        if not name.startswith("migrate-"):
            continue
        use_environment(monkeypatch, job, example_env)
        database = tmp_path / f"{service}.sqlite3"
        monkeypatch.setenv("PORTAL_DATA_DIR", str(tmp_path))
        monkeypatch.setenv(f"PORTAL_{service.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
        get_settings.cache_clear()
        try:
            CliRunner().invoke(cli, job["command"][1:], catch_exceptions=False)
        finally:
            get_settings.cache_clear()
        assert database.stat().st_size > 0, service


def test_app_containers_set_only_real_settings(compose: dict[str, Any]) -> None:
    """Every variable given to a service or job is a field of PortalSettings (or a standard OTEL_* variable)."""
    known = known_variables()
    unknown = {name: sorted(set(definition["environment"]) - known) for name, _, definition in app_workloads(compose)}
    assert {name: found for name, found in unknown.items() if found} == {}


def test_each_service_gets_its_own_database_and_the_gateway_every_url(
    compose: dict[str, Any], example_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings built from each container's environment: production, the broker host, its own database on the
    postgres host (and no other service's), and for the gateway the URL of every other service."""
    for name, service, definition in app_workloads(compose):
        use_environment(monkeypatch, definition, example_env)
        settings = PortalSettings()
        assert settings.env == "production"
        assert urlsplit(settings.rabbitmq_url).hostname == "rabbitmq"
        url = make_url(settings.database_url_of(service))
        assert (url.drivername, url.host, url.port, url.database, url.username) == (
            "postgresql+asyncpg",
            "postgres",
            5432,
            service,
            service,
        ), name
        assert url.password == example_env[f"{service.upper()}_DB_PASSWORD"]
        others = [other for other in SERVICES if other != service]
        assert [other for other in others if getattr(settings, f"{other}_database_url")] == [], name
    use_environment(monkeypatch, compose["services"]["gateway"], example_env)
    gateway = PortalSettings()
    assert {other: gateway.urls_of(other) for other in SERVICES[1:]} == {
        other: [f"http://{other}:8000"] for other in SERVICES[1:]
    }


def test_secrets_have_no_defaults_and_the_example_lists_them(
    compose: dict[str, Any], example_env: dict[str, str]
) -> None:
    """Every variable the compose file uses is required (``${NAME:?...}``) and listed in deploy/.env.example."""
    text = (ROOT / "docker-compose.yml").read_text()
    references = VARIABLE.findall(text)
    assert references
    assert [name for name, rest in references if not rest.startswith(":?")] == []
    assert {name for name, _ in references} == set(example_env)
    secret = compose["services"]["gateway"]["environment"]["PORTAL_INTERNAL_TOKEN_SECRET"]
    assert secret.startswith("${PORTAL_INTERNAL_TOKEN_SECRET:?")
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_postgres_init_script_creates_a_database_and_role_per_service(compose: dict[str, Any]) -> None:
    """The init script loops over exactly the five services, creating a password role and a database it owns;
    compose mounts it where the image runs it and hands it every role's password."""
    script = (DEPLOY / "postgres" / "init.sh").read_text()
    loop = re.search(r"^for service in ([\w ]+); do$", script, re.MULTILINE)
    assert loop and tuple(loop.group(1).split()) == SERVICES
    assert re.search(r'CREATE ROLE :"name" LOGIN PASSWORD :\'password\';', script)
    assert re.search(r'CREATE DATABASE :"name" OWNER :"name";', script)
    postgres = compose["services"]["postgres"]
    assert "./deploy/postgres/init.sh:/docker-entrypoint-initdb.d/init.sh:ro" in postgres["volumes"]
    assert {f"{service.upper()}_DB_PASSWORD" for service in SERVICES} <= set(postgres["environment"])


def test_prometheus_scrapes_every_service() -> None:
    """One scrape job reads /metrics of all five services on their in-network port."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        if job.get("metrics_path", "/metrics") == "/metrics"
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert {f"{service}:8000" for service in SERVICES} <= targets


def exported_series() -> set[str]:
    """Names of the series the services' metrics (shared.metrics) appear as on /metrics."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    series = set()
    for metric in vars(shared.metrics).values():
        if isinstance(metric, MetricWrapperBase):
            name = metric.describe()[0].name
            series.update(name + suffix for suffix in suffixes.get(metric._type, ("",)))
    return series


def test_grafana_is_provisioned_with_prometheus_and_a_dashboard_of_real_metrics(compose: dict[str, Any]) -> None:
    """The data source points at the prometheus service; the dashboard uses it and queries only series the
    services export, covering latency, events and the outbox."""
    provisioning = DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090")
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "portal.yml").read_text())["providers"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in compose["services"]["grafana"]["volumes"]

    exported = exported_series()
    dashboard = json.loads(next((DEPLOY / "grafana" / "dashboards").glob("*.json")).read_text())
    targets = [target for panel in dashboard["panels"] for target in panel["targets"]]
    assert {target["datasource"]["uid"] for target in targets} == {source["uid"]}
    queried = {name for target in targets for name in re.findall(r"\bportal_\w+", target["expr"])}
    assert queried <= exported, queried - exported
    assert {
        "portal_http_request_duration_seconds_bucket",
        "portal_events_published_total",
        "portal_events_consumed_total",
        "portal_events_dead_lettered_total",
        "portal_outbox_backlog",
        "portal_outbox_oldest_age_seconds",
    } <= queried
    assert {"histogram_quantile(0.5,", "histogram_quantile(0.99,"} <= {
        match for target in targets for match in re.findall(r"histogram_quantile\([\d.]+,", target["expr"])
    }


def test_otel_collector_receives_what_the_services_send(compose: dict[str, Any]) -> None:
    """The collector takes OTLP over HTTP (the port the services are pointed at) and gRPC, batches, and logs."""
    config = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    protocols = config["receivers"]["otlp"]["protocols"]
    assert set(protocols) == {"grpc", "http"}
    endpoint = compose["services"]["gateway"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint == f"http://otel-collector:{protocols['http']['endpoint'].rsplit(':', 1)[1]}"
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"] and "batch" in traces["processors"] and "debug" in traces["exporters"]


def test_dockerfile_installs_the_lock_with_hashes_and_runs_unprivileged() -> None:
    """python:3.11-slim, dependencies only from the hashed lock, the project without dependencies, a non-root user,
    and only files that exist copied in; the build context leaves local state out."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.replace("\\\n", " ").splitlines() if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    runs = " && ".join(line for line in instructions if line.startswith("RUN "))
    assert re.search(r"pip install --require-hashes -r \S*requirements\.lock", runs)
    assert re.search(r"pip install --no-deps ", runs)
    assert runs.index("--require-hashes") < runs.index("--no-deps")
    (user,) = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert user not in ("root", "0")
    for line in instructions:
        if line.startswith("COPY "):
            assert all((ROOT / source).exists() for source in shlex.split(line)[1:-1]), line
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "var", ".git", "**/__pycache__", "bench/results"} <= ignored


def kubernetes_documents() -> list[dict[str, Any]]:
    """Every document of every manifest under deploy/k8s."""
    documents = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        documents += [document for document in yaml.safe_load_all(path.read_text()) if document]
    return documents


def test_kubernetes_manifests_name_real_services_and_settings() -> None:
    """Deployments and Services per service (cases scaled out), a migration Job each, and a ConfigMap and Secret
    template that set only real settings, with no real secret in them."""
    documents = kubernetes_documents()
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for document in documents:
        assert {"apiVersion", "kind", "metadata"} <= set(document)
        by_kind.setdefault(document["kind"], {})[document["metadata"]["name"]] = document
    assert set(by_kind["Deployment"]) == set(SERVICES) == set(by_kind["Service"])
    assert set(by_kind["Job"]) == {f"migrate-{service}" for service in SERVICES}
    assert by_kind["Deployment"]["cases"]["spec"]["replicas"] == 2

    known = known_variables()
    for document in [*by_kind["ConfigMap"].values(), *by_kind["Secret"].values()]:
        values = document.get("data") or document.get("stringData")
        assert set(values) <= known, set(values) - known
    for secret in by_kind["Secret"].values():
        assert all("REPLACE_ME" in value for value in secret["stringData"].values()), secret["metadata"]["name"]

    for service in SERVICES:
        deployment = by_kind["Deployment"][service]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert by_kind["Service"][service]["spec"]["selector"].items() <= labels.items()
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == service_command(service)
        assert importlib.util.find_spec(f"services.{service}.app") is not None
        (job_container,) = by_kind["Job"][f"migrate-{service}"]["spec"]["template"]["spec"]["containers"]
        assert migrated_services(job_container["command"]) == [service]
        for spec in (container, job_container):
            refs = {ref.get("secretRef", {}).get("name") for ref in spec["envFrom"]} - {None}
            assert refs == {"portal-shared", f"portal-{service}-db"}, service
        database_secret = by_kind["Secret"][f"portal-{service}-db"]["stringData"]
        assert set(database_secret) == {f"PORTAL_{service.upper()}_DATABASE_URL"}


def test_notifications_send_through_the_smtp_server_compose_runs(
    compose: dict[str, Any], example_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notifications container's settings name Mailpit's SMTP port, with a login it accepts, and a From."""
    use_environment(monkeypatch, compose["services"]["notifications"], example_env)
    settings = NotificationsSettings()
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == ("mailpit", 1025, "none")
    assert settings.smtp_username and settings.smtp_password and "@" in settings.mail_from
    mailpit = compose["services"]["mailpit"]
    assert str(settings.smtp_port) in mailpit["expose"] and mailpit["environment"]["MP_SMTP_AUTH_ACCEPT_ANY"] == "true"
