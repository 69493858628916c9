"""The REST API under /api/v1/ (Django REST framework, OpenAPI by drf-spectacular): a thin
adapter over campaigns/services, with the admin's roles and permissions."""
