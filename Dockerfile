FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY producer producer
COPY analyzer analyzer
COPY api api
COPY training training
RUN pip install --no-cache-dir '.[server]' && useradd --system --uid 10001 spectral-edge
# no secrets here: CURVE keys, the Redis password and tokens come at run time (docker-compose.yml)
USER spectral-edge
EXPOSE 5555 8000
ENTRYPOINT ["spectral-edge"]
