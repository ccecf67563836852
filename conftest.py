import os

os.environ.setdefault("DJANGO_TESTING", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
