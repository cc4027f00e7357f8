"""Product API v1: reading an incident back with its timeline."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.auth import product_of
from conversations.serializers import ErrorSerializer, IncidentDetailSerializer

from . import services
from .models import Incident


class IncidentView(APIView):
    @extend_schema(operation_id="get_incident",
                   responses={200: IncidentDetailSerializer, **{c: ErrorSerializer for c in (401, 404, 429, 503)}})
    def get(self, request, incident_id):
        incident = get_object_or_404(Incident.objects.select_related("conversation"),
                                     pk=incident_id, product=product_of(request))
        return Response(services.incident_detail(incident))
