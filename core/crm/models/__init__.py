"""The core's tables. Importing this package registers them all on ``crm.db.Model``."""
from crm.models.audit import AuditEntry
from crm.models.auth import ROLES, ApiToken, LoginAttempt, User
from crm.models.plugin_state import PluginState, Setting

__all__ = ["AuditEntry", "ApiToken", "LoginAttempt", "PluginState", "ROLES", "Setting", "User"]
