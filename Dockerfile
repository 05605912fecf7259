# uws-server: the web tier and the dispatcher in one container on the embedded default
# (SQLite and the local executor under /data). For production, set UWS_DATABASE_URL to
# PostgreSQL and run `uws-server worker` in a second container from the same image with
# gunicorn serving the web tier:
#   docker run ... uws-server gunicorn -c python:uws_server.gunicorn_conf uws_server.wsgi:app
#
# An exact Python release, so that a rebuild gets the interpreter this was tested with.
FROM python:3.11.16-slim-bookworm

# git: OCPS jobs clone the repositories they run. Not pinned: the base tag fixes the
# Debian release, and its security updates for git should land on a rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 1000 uws \
    && useradd --create-home --uid 1000 --gid 1000 uws \
    && mkdir -p /data && chown uws:uws /data

WORKDIR /src
# The dependencies first, from the packaging metadata alone, so that this layer is rebuilt
# only when setup.cfg or pyproject.toml change: the build requirements, install_requires
# and the htcondor extra.
COPY pyproject.toml setup.cfg ./
RUN python -c "import configparser, tomllib; \
cfg = configparser.RawConfigParser(); cfg.read('setup.cfg'); \
build = tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']; \
run = cfg['options']['install_requires'] + chr(10) + cfg['options.extras_require']['htcondor']; \
print(*build, *(line.strip() for line in run.splitlines() if line.strip()), sep=chr(10))" \
    > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the package, non-editable into site-packages (the wheel's files, schemas included);
# the source tree is not kept.
COPY setup.py MANIFEST.in README.md ./
COPY schemas ./schemas
COPY uws_server ./uws_server
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && pip check \
    && rm -rf /src

WORKDIR /data
# uws, by number, so that a runtime can check it is not root (Kubernetes runAsNonRoot)
USER 1000:1000
# UWS_HOST=0.0.0.0 so that a published port reaches the server. On that address `serve`
# refuses to start until authentication is configured (docs/auth.md): create the first
# admin and a token on the volume first, e.g.
#   docker run -v uws-data:/data IMAGE uws-server user add ops --admin
#   docker run -v uws-data:/data IMAGE uws-server token create ops
# or set UWS_TRUSTED_PROXY_HEADER behind an authenticating proxy. Never work around it with
# --insecure-anonymous on a reachable address. The service answers to Host
# localhost/127.0.0.1 with port 8080 only: published on another port or name, set
# UWS_BASE_URL or UWS_ALLOWED_HOSTS.
ENV UWS_DATA_DIR=/data \
    UWS_HOST=0.0.0.0 \
    UWS_PORT=8080
VOLUME /data
EXPOSE 8080
# Liveness: /health answers 200 while the process serves (public, no database call).
# Readiness (/ready: database, migrations, dispatcher lease, backend) is for orchestrators:
# docker-compose.yml and deploy/helm/uws-server/ use both.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('UWS_PORT', '8080') + '/health', timeout=4)"]
CMD ["uws-server", "serve"]
