"""API stage: the FastAPI routers of the query API, catalog, health, alerts, rules and silences
endpoints. Alerts and silences come from the notifier stage's saved state (:mod:`api.notifier`)."""

from api.alerts import router as alerts_router
from api.catalog import router as catalog_router
from api.context import ApiContext
from api.errors import ApiError, install_error_handlers
from api.health import router as health_router
from api.logs import router as logs_router
from api.query import router as query_router
from api.rules import router as rules_router
from api.silences import router as silences_router
from api.traces import router as traces_router

__all__ = [
    "ApiContext",
    "ApiError",
    "alerts_router",
    "catalog_router",
    "health_router",
    "install_error_handlers",
    "logs_router",
    "query_router",
    "rules_router",
    "silences_router",
    "traces_router",
]
