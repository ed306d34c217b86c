from django.apps import AppConfig


class CreatorsConfig(AppConfig):
    name = "creators"
    verbose_name = "Creators"

    def ready(self) -> None:
        # The home page's kept directory is forgotten when a creator or an account changes.
        from creators import directory  # noqa: F401
