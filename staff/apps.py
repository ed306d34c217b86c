from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "staff"
    verbose_name = "Staff console"

    def ready(self) -> None:
        from btt_platform import audit
        from staff import audit as audit_log

        # The services below the console write their staff actions through
        # btt_platform.audit.record; the entries are stored here.
        audit.keep_with(audit_log.record)
