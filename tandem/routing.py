from django.urls import path

from tandem.home.consumers import LiveConsumer
from tandem.video.check import CheckConsumer
from tandem.video.consumers import RoomConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
    # The pre-call check; before the room routes, which would take "check" for an appointment.
    path("ws/video/check/", CheckConsumer.as_asgi()),
    path("ws/video/join/<str:token>/check/", CheckConsumer.as_asgi()),
    path("ws/video/join/<str:token>/", RoomConsumer.as_asgi()),
    path("ws/video/<str:appointment_id>/", RoomConsumer.as_asgi()),
]
