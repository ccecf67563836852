# Sourced by the make scripts: use DATABASE_URL when set, otherwise start the project-local PostGIS.
if [ -z "${DATABASE_URL:-}" ]; then
  bash scripts/db.sh start
  DATABASE_URL=$(bash scripts/db.sh url)
  export DATABASE_URL
else
  echo "==> using DATABASE_URL from the environment"
fi
export DJANGO_SETTINGS_MODULE=config.settings
