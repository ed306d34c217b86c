from tests.staff.personas import finance, moderator, superuser

__all__ = ["finance", "moderator", "superuser"]
