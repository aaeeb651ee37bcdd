#!/bin/sh
# Runs once, on an empty data volume: one role and one database per service (ARCHITECTURE.md rule 1), each
# role owning only its own database. A role's password comes from <SERVICE>_DB_PASSWORD.
set -eu

for service in gateway orders cases documents notifications; do
    variable="$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
    password="$(printenv "$variable")" || { echo "init.sh: $variable is not set" >&2; exit 1; }
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --set=name="$service" --set=password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
