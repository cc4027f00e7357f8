"""The operator console's pages (the live queue and takeover arrive with the console issue)."""
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render

from .models import Incident

QUEUE_LIMIT = 200


@staff_member_required(login_url="/accounts/login/")
def queue(request):
    incidents = (
        Incident.objects.exclude(status="resolved")
        .select_related("product", "conversation__end_user")
        .order_by("-level_rank", "opened_at")[:QUEUE_LIMIT]
    )
    return render(request, "console/queue.html", {"incidents": incidents})
