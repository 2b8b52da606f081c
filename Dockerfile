FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY crawler crawler
COPY storage storage
COPY scheduler scheduler
COPY digest digest
COPY httpvalues httpvalues
COPY web web
RUN pip install --no-cache-dir '.[distributed]' && useradd --create-home govwatch
USER govwatch
WORKDIR /home/govwatch
ENTRYPOINT ["govwatch"]
# The background service; `docker run IMAGE crawl --all` crawls once instead.
EXPOSE 8080
CMD ["run", "--http", "0.0.0.0:8080"]
