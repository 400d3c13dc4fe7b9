from django.urls import path

from tandem.home.consumers import LiveConsumer
from tandem.video.consumers import RoomConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
    path("ws/video/join/<str:token>/", RoomConsumer.as_asgi()),
    path("ws/video/<str:appointment_id>/", RoomConsumer.as_asgi()),
]
