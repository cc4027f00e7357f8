"""Write confirmed risk feedback as training data (docs/risk.md, "Feedback loop").

    manage.py export_risk_feedback --output feedback.jsonl [--product NAME]
    manage.py train_risk_model --feedback feedback.jsonl --output /tmp/candidate.json.gz

One JSON object a line, as the corpus files are: {text, level, category, lang, kind: "feedback",
speaker}. Only labels a supervisor confirmed, of users whose product says they consent to training
now (`training_consent`, final Measures Art. 16) and who are not erased; in the order the labels
were made. The file holds users' own words: keep it where the corpus is kept, not in the repository.
"""
import json

from django.core.management.base import BaseCommand, CommandError

from conversations.models import Product
from escalation import audit
from escalation.feedback import training_items


class Command(BaseCommand):
    help = "Write confirmed risk feedback of consenting users as JSON Lines for train_risk_model --feedback."

    def add_arguments(self, parser):
        parser.add_argument("--output", default="-", help="the file to write (default: standard output)")
        parser.add_argument("--product", default=None, help="only this product's users (its name)")

    def handle(self, *args, **options):
        product = None
        if options["product"] is not None:
            product = Product.objects.filter(name=options["product"]).first()
            if product is None:
                raise CommandError(f"no product named {options['product']!r}")
        items = training_items(product)
        lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
        if options["output"] == "-":
            self.stdout.write(lines, ending="")
        else:
            with open(options["output"], "w", encoding="utf-8") as fh:
                fh.write(lines)
        audit.record("feedback.exported", actor_label="manage.py", product=product, items=len(items))
        if options["output"] != "-":
            self.stderr.write(f"{len(items)} labelled messages written to {options['output']}")
