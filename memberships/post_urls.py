from django.urls import path

from memberships import post_views

urlpatterns = [
    path("posts/<int:post_id>/", post_views.post_detail, name="post-detail"),
    path("posts/emails/<str:token>/", post_views.post_emails_opt_out, name="post-emails-opt-out"),
    path("memberships/post-emails/", post_views.my_post_emails, name="my-post-emails"),
    path("studio/posts/", post_views.studio_posts, name="studio-posts"),
    path("studio/posts/<int:post_id>/", post_views.studio_post_edit, name="studio-post-edit"),
    path(
        "studio/posts/<int:post_id>/delete/",
        post_views.studio_post_delete,
        name="studio-post-delete",
    ),
]
