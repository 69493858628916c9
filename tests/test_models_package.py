"""campaigns.models is a package by area; every model stays importable from campaigns.models."""

from __future__ import annotations

from django.apps import apps

import campaigns.models


def test_every_model_of_the_app_is_importable_from_campaigns_models():
    for model in apps.get_app_config("campaigns").get_models():
        assert getattr(campaigns.models, model.__name__) is model, model.__name__


def test_every_exported_name_resolves():
    for name in campaigns.models.__all__:
        assert getattr(campaigns.models, name) is not None, name
