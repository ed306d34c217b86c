from django.urls import path

from memberships import views

urlpatterns = [
    path("tiers/<int:tier_id>/join/", views.join, name="membership-join"),
    path("memberships/", views.my_memberships, name="my-memberships"),
    path("memberships/<int:membership_id>/pay/", views.pay_now, name="membership-pay"),
    path("memberships/<int:membership_id>/tier/", views.change_tier, name="membership-tier"),
    path("memberships/<int:membership_id>/cancel/", views.cancel, name="membership-cancel"),
    path("memberships/<int:membership_id>/privacy/", views.privacy, name="membership-privacy"),
    path("studio/tiers/", views.studio_tiers, name="studio-tiers"),
    path("studio/tiers/<int:tier_id>/", views.studio_tiers, name="studio-tier-edit"),
    path("studio/tiers/<int:tier_id>/retire/", views.retire, name="studio-tier-retire"),
    path(
        "studio/content/<int:content_id>/members/",
        views.studio_content_members,
        name="studio-content-members",
    ),
    path("studio/members.csv", views.members_csv, name="studio-members-csv"),
]
