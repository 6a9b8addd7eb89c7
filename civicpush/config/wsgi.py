import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicpush.config.settings")

from civicpush.core.fastpath import FastPathApplication

application = FastPathApplication(get_wsgi_application())
