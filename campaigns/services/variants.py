"""A/B tests of voice files: 2–4 variants, each a voice file played to a share of the callees.

A callee's variant is decided by a hash of its number (`bucket`, 0–99, the same in Python and
in SQL), so it is deterministic, needs no stored random state, and is kept across retries (it is
stored on the callee the first time a dispatcher runs, in one UPDATE for the whole campaign).
The dispatcher claims each variant's callees in batches of their own (sendGroup plays one file
per request): `VariantRotation` takes the variants in turn, with a claim cursor each.
"""

from __future__ import annotations

from django.db.models import BigIntegerField, Case, Q, Value, When
from django.db.models.functions import Cast, Mod, Right
from django.utils.translation import gettext

from campaigns.models import Callee, Campaign, CampaignVariant, DispatchBatch, VoiceFile

MIN_VARIANTS, MAX_VARIANTS = 2, 4
#: Knuth's multiplicative hash of the number's last 8 digits, top bits scaled to 0–99.
_MULTIPLIER = 2654435761
_MODULUS = 2**32


class VariantError(ValueError):
    """Bad variants (a share, a sum, a count, a file); the message says which."""


def bucket(number: str) -> int:
    """0–99 for a number (digits): the share its variant is picked by."""
    return (int(number[-8:]) * _MULTIPLIER) % _MODULUS * 100 // _MODULUS


def _bucket_sql() -> Mod:
    digits = Cast(Right("number", 8), BigIntegerField())
    return Mod(digits * Value(_MULTIPLIER), Value(_MODULUS)) * Value(100) / Value(_MODULUS)


def variant_for(number: str, variants: list[CampaignVariant]) -> CampaignVariant:
    """The variant a number hears (Python twin of the SQL assignment)."""
    share, upper = bucket(number), 0
    for variant in variants:
        upper += variant.percent
        if share < upper:
            return variant
    return variants[-1]


def assign_variants(campaign: Campaign) -> int:
    """Give every callee of an A/B campaign that has none its variant, by its number's bucket:
    one UPDATE … CASE over the campaign's unassigned callees. Returns how many."""
    variants = list(campaign.variants.order_by("position"))
    if not variants:
        return 0
    whens, upper = [], 0
    for variant in variants[:-1]:
        upper += variant.percent
        whens.append(When(fc_bucket__lt=upper, then=Value(variant.pk)))
    rows = Callee.objects.filter(campaign_id=campaign.pk, variant__isnull=True).exclude(
        state=Callee.State.STAGED
    )
    ids = rows.alias(fc_bucket=_bucket_sql()).annotate(
        fc_variant=Case(*whens, default=Value(variants[-1].pk))
    )
    total = 0
    for variant in variants:
        chosen = ids.filter(fc_variant=variant.pk).values("pk")
        total += Callee.objects.filter(pk__in=chosen).update(variant=variant)
    return total


def batch_file_id(campaign: Campaign, batch: DispatchBatch) -> str:
    """The ITNIO file ID a batch plays: its variant's, or the campaign's voice file."""
    return getattr(batch, "remote_file_id", "") or campaign.voice_file.remote_file_id


class VariantRotation:
    """The dispatcher's claims of an A/B campaign: each variant in turn, each with a cursor of
    its own (the last callee id it took); one turn of `None` for other campaigns."""

    def __init__(self, campaign: Campaign) -> None:
        assign_variants(campaign)
        variants = list(campaign.variants.select_related("voice_file").order_by("position"))
        self.ids: list[int | None] = [v.pk for v in variants] or [None]
        self.files = {v.pk: v.voice_file.remote_file_id for v in variants}
        self.cursors: dict[int | None, int] = dict.fromkeys(self.ids, 0)
        self.turn = 0

    def order(self) -> list[int | None]:
        """The variants to try for the next claim, starting with the next one's turn."""
        start = self.turn % len(self.ids)
        self.turn += 1
        return self.ids[start:] + self.ids[:start]

    def reset(self) -> None:
        self.cursors = dict.fromkeys(self.ids, 0)

    def only(self, variant_id: int | None) -> Q:
        return Q() if variant_id is None else Q(variant_id=variant_id)

    def prepare(self, batch: DispatchBatch) -> DispatchBatch:
        """Note on the batch the file it plays (read by batch_file_id, no query in a sender)."""
        batch.remote_file_id = self.files.get(batch.variant_id, "")  # type: ignore[attr-defined]
        return batch


# ---------------------------------------------------------------------------
# Input: `--variant FILE:PCT`, and the checks the admin form shares
# ---------------------------------------------------------------------------
def parse_variant(text: str) -> tuple[str, int]:
    """`promo-a.wav:60` → ("promo-a.wav", 60)."""
    name, sep, share = text.rpartition(":")
    if not sep or not name.strip() or not share.strip().isdigit():
        raise VariantError(
            gettext("A variant is FILE:PERCENT (e.g. promo-a.wav:50), not %(text)r.")
            % {"text": text}
        )
    return name.strip(), int(share)


def check_shares(shares: list[int]) -> None:
    """2–4 variants, each 1–99 %, summing to 100."""
    if not MIN_VARIANTS <= len(shares) <= MAX_VARIANTS:
        raise VariantError(
            gettext("An A/B test has 2 to 4 variants, not %(n)s.") % {"n": len(shares)}
        )
    if any(not 1 <= share <= 99 for share in shares):
        raise VariantError(gettext("Each variant's share is 1 to 99 percent."))
    if sum(shares) != 100:
        raise VariantError(
            gettext("The variants' shares sum to %(sum)s percent, not 100.") % {"sum": sum(shares)}
        )


def check_variant_files(files: list[VoiceFile], account_id: int) -> None:
    for voice_file in files:
        if voice_file.account_id != account_id:
            raise VariantError(
                gettext("Voice file %(file)s belongs to another ITNIO account than the app.")
                % {"file": voice_file.file_name}
            )
    if len({f.pk for f in files}) != len(files):
        raise VariantError(gettext("Each variant plays a different voice file."))


def set_variants(campaign: Campaign, variants: list[tuple[VoiceFile, int]]) -> None:
    """Replace the campaign's variants (a draft's); the campaign's own voice file becomes the
    first variant's."""
    campaign.variants.all().delete()
    CampaignVariant.objects.bulk_create(
        [
            CampaignVariant(campaign=campaign, position=i, voice_file=f, percent=p)
            for i, (f, p) in enumerate(variants, start=1)
        ]
    )


def variant_problems(campaign: Campaign) -> list[str]:
    """What stops launching an A/B campaign: a file not uploaded, shares not summing to 100."""
    variants = list(campaign.variants.select_related("voice_file"))
    if not variants:
        return []
    problems = []
    try:
        check_shares([v.percent for v in variants])
    except VariantError as exc:
        problems.append(str(exc))
    for variant in variants:
        if variant.voice_file.state != VoiceFile.State.UPLOADED:
            problems.append(
                gettext("Variant %(label)s: voice file %(file)s is not uploaded to ITNIO yet.")
                % {"label": variant.label, "file": variant.voice_file.file_name}
            )
    return problems
