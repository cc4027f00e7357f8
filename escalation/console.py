"""The operator console's pages and the JSON its script reads (frames arrive over /ws/console/)."""
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, JsonResponse
from django.shortcuts import render

from contacts import chain
from contacts.services import contacts_in_priority, mask_phone
from conversations.directives import hotlines
from conversations.models import Message, ReplyTemplate

from . import audit, feedback, live
from .api_errors import error_response
from .params import whole_number
from .takeover import OUTCOMES

TRANSCRIPT_PAGE = 200
staff_required = staff_member_required(login_url="/accounts/login/")


@staff_required
def queue(request):
    is_supervisor = live.sees_everything(request.user)
    return render(request, "console/queue.html", {
        "outcomes": OUTCOMES,
        "feedback_levels": list(feedback.MISSED_LEVELS),
        "feedback_categories": list(feedback.CATEGORIES),
        "is_supervisor": is_supervisor,
        # An operator with no product sees an empty queue forever: the page says why, not "Nothing waiting".
        "no_products": not is_supervisor and not live.visible_product_ids(request.user),
    })


@staff_required
def incident_detail(request, incident_id):
    """Everything the operator needs to take over: transcript, contacts, timeline, presets."""
    incident = live.visible_incidents(request.user).filter(pk=incident_id).first()
    if incident is None:
        raise Http404
    before = request.GET.get("before") or None
    if before is not None and whole_number(before) is None:
        return error_response(400, "invalid", "`before` must be a cursor from a previous page.", {"before": before})
    end_user = incident.conversation.end_user
    full_phones = live.sees_everything(request.user)
    contacts = contacts_in_priority(end_user)
    audit.record("transcript.viewed", actor=request.user, obj=incident, before=before)
    if full_phones and contacts:  # a supervisor sees the numbers in full: who read which number
        audit.record("phones.viewed", actor=request.user, obj=incident, contacts=[c.pk for c in contacts])
    return JsonResponse({
        "incident": live.queue_item(incident),
        "transcript": transcript(incident, whole_number(before) if before else None),
        "contacts": [
            {"name": c.name, "relationship": c.relationship, "kind": c.kind, "priority": c.priority,
             "phone": c.phone if full_phones else mask_phone(c.phone), "verified": c.verified_at is not None}
            for c in contacts
        ],
        "notifications": [chain.notification_item(n, full_phone=full_phones)
                          for n in incident.notifications.select_related("contact", "staff").order_by("step")],
        "timeline": [
            {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor_label, "data": e.data}
            for e in incident.events.order_by("id")
        ],
        "templates": preset_replies(end_user.locale),
        "hotlines": hotlines(end_user.region, end_user.locale),
        "user": {"id": end_user.external_id, "age_group": end_user.age_group or None,
                 "region": end_user.region or None, "locale": end_user.locale or None,
                 "dependence_level": end_user.dependence_level, "registration": end_user.registration,
                 "training_consent": end_user.training_consent},
    }, json_dumps_params={"ensure_ascii": False})


def transcript(incident, before=None) -> dict:
    """The conversation's latest messages (earlier ones page back with `before`, a message id)."""
    queryset = Message.objects.filter(conversation_id=incident.conversation_id).select_related("operator")
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset.order_by("-id")[: TRANSCRIPT_PAGE + 1])
    more = len(rows) > TRANSCRIPT_PAGE
    rows = list(reversed(rows[:TRANSCRIPT_PAGE]))
    labels = feedback.standing_feedback([m.pk for m in rows])  # the risk labels proposed or confirmed
    messages = [{**live.message_item(m), "feedback": feedback.feedback_item(labels[m.pk]) if m.pk in labels else None}
                for m in rows]
    return {"messages": messages, "before": str(rows[0].id) if more else None}


def preset_replies(locale) -> list[dict]:
    """Reply templates in the user's language (falling back to English) for one-click answers."""
    language = (locale or "en").split("-")[0].lower()
    rows = ReplyTemplate.objects.filter(active=True, kind="reply").order_by("level", "id")
    same = [r for r in rows if r.locale.split("-")[0].lower() == language]
    chosen = same or [r for r in rows if r.locale.split("-")[0].lower() == "en"]
    return [{"level": r.level, "locale": r.locale, "text": r.text} for r in chosen]
