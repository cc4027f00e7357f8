from django.db import DatabaseError, connection
from django.http import JsonResponse


def healthz(request):
    """200 once the server answers and the database is reachable; 503 JSON otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "database unavailable"}, status=503, headers={"Retry-After": "5"})
    return JsonResponse({"status": "ok"})
