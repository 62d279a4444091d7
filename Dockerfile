# Loa for a district host. Storage: point LOA_STORAGE__ENDPOINT at an S3 service, or keep
# the embedded SeaweedFS (it listens on 127.0.0.1 inside the container only).
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 loa
WORKDIR /srv/loa
COPY pyproject.toml README.md ./
COPY config ./config
COPY content ./content
COPY pipeline ./pipeline
COPY playout ./playout
COPY app ./app
RUN pip install --no-cache-dir . && chown -R loa:loa /srv/loa

USER loa
ENV LOA_DATA_DIR=/srv/loa/var
VOLUME ["/srv/loa/var"]
ENTRYPOINT ["loa"]
CMD ["up"]
