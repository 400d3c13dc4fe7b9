from django.apps import AppConfig


class MeasuresConfig(AppConfig):
    name = "tandem.measures"
    label = "measures"
    verbose_name = "Measurement-based care"

    def ready(self) -> None:
        # Every instrument file is checked at start-up, not when a patient is scored.
        from tandem.measures.instruments import all_instruments

        all_instruments()
