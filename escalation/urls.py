from functools import wraps

from csp.decorators import csp_exempt
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerView

from contacts import views as contact_views
from contacts.api import UserView
from contacts.rights import UserExportView
from conversations.api import ConversationView, FlagsView, MessagesView

from . import console, demo, reports_views, two_factor, views
from .schema import SchemaView
from .api import IncidentView

EXTERNAL_ID = r"(?P<{}>[^/]{{1,128}})"



def needs_email(view):
    """The password-reset pages exist only when a mail server is configured (EMAIL_HOST): without
    one they could only try SMTP on localhost inside the request. Admins reset passwords in the
    Django admin. Checked per request, so the pages follow the setting without a new URLconf."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.EMAIL_HOST:
            raise Http404
        return view(request, *args, **kwargs)
    return wrapped


# django.contrib.auth.urls, spelled out: the reset pages only with email.
accounts = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password_reset/", needs_email(auth_views.PasswordResetView.as_view()), name="password_reset"),
    path("password_reset/done/", needs_email(auth_views.PasswordResetDoneView.as_view()), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", needs_email(auth_views.PasswordResetConfirmView.as_view()),
         name="password_reset_confirm"),
    path("reset/done/", needs_email(auth_views.PasswordResetCompleteView.as_view()), name="password_reset_complete"),
]

api_v1 = [
    re_path(rf"^users/{EXTERNAL_ID.format('user_id')}$", UserView.as_view(), name="user"),
    re_path(rf"^users/{EXTERNAL_ID.format('user_id')}/export$", UserExportView.as_view(), name="user-export"),
    re_path(rf"^conversations/{EXTERNAL_ID.format('conversation_id')}$", ConversationView.as_view(),
            name="conversation"),
    re_path(rf"^conversations/{EXTERNAL_ID.format('conversation_id')}/messages$", MessagesView.as_view(),
            name="messages"),
    path("flags", FlagsView.as_view(), name="flags"),
    path("incidents/<uuid:incident_id>", IncidentView.as_view(), name="incident"),
]

urlpatterns = [
    # A bare 404 at the site's root helps nobody: the console is what a person opening it wants.
    path("", RedirectView.as_view(pattern_name="console"), name="root"),
    path("healthz", views.healthz, name="healthz"),
    path("console/", console.queue, name="console"),
    path("demo/", demo.chat, name="demo"),
    path("console/incidents/<uuid:incident_id>/", console.incident_detail, name="console-incident"),
    path("console/oncall.json", reports_views.oncall_json, name="console-oncall"),
    path("console/reports/", reports_views.page, name="reports"),
    path("console/reports/data.json", reports_views.data, name="reports-data"),
    path("console/reports/referrals-<int:year>.csv", reports_views.referrals_csv, name="reports-referrals"),
    path("console/reports/<slug:name>.csv", reports_views.report_csv, name="reports-csv"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("twilio/status/", contact_views.twilio_status, name="twilio-status"),
    path("c/verify/<str:token>", contact_views.verify_contact, name="verify-contact"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # Swagger UI runs an inline script: its page alone is exempt from the content security policy.
    path("api/docs/", csp_exempt()(SpectacularSwaggerView.as_view(url_name="schema")), name="api-docs"),
    path("admin/", admin.site.urls),
    path("accounts/2fa/", two_factor.verify, name="two-factor-verify"),
    path("accounts/2fa/setup/", two_factor.setup, name="two-factor-setup"),
    path("accounts/", include(accounts)),
]

handler404 = "escalation.api_errors.api_not_found"
handler500 = "escalation.api_errors.api_server_error"
