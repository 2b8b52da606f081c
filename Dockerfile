FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY crawler crawler
COPY storage storage
COPY scheduler scheduler
RUN pip install --no-cache-dir . && useradd --create-home govwatch
USER govwatch
WORKDIR /home/govwatch
ENTRYPOINT ["govwatch"]
CMD ["crawl", "--all"]
