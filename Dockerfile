# uws-server: the web tier and the dispatcher in one container on the embedded default
# (SQLite and the local executor under /data). For production, set UWS_DATABASE_URL to
# PostgreSQL and run `uws-server worker` in a second container from the same image with
# gunicorn serving the web tier:
#   docker run ... uws-server gunicorn -c python:uws_server.gunicorn_conf uws_server.wsgi:app
FROM python:3.11-slim

RUN useradd --create-home --uid 1000 uws \
    && mkdir -p /data && chown uws:uws /data
WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY schemas ./schemas
COPY uws_server ./uws_server
RUN pip install --no-cache-dir -e '.[htcondor]'

USER uws
ENV UWS_DATA_DIR=/data \
    UWS_HOST=0.0.0.0 \
    UWS_PORT=8080
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/uws', timeout=4)" || exit 1
CMD ["uws-server", "serve"]
