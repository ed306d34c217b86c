from django.urls import path

from creators import views

urlpatterns = [
    path("", views.home, name="home"),
    path("become-creator/", views.become_creator, name="become-creator"),
    path("settings/profile/", views.edit_profile, name="creator-profile"),
]
