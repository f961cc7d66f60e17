"""Which column generator serves which field type."""

from __future__ import annotations

from foredeck.generator.columns import (
    BooleanColumn,
    ChoiceColumn,
    Column,
    DateColumn,
    DatetimeColumn,
    DecimalColumn,
    FloatColumn,
    IntegerColumn,
    ReferenceColumn,
    UUIDColumn,
)
from foredeck.generator.schemas import FieldSpec, FieldType
from foredeck.generator.textcolumns import (
    AddressColumn,
    EmailColumn,
    IPAddressColumn,
    NameColumn,
    PatternColumn,
    PoolColumn,
    StringColumn,
    TitleColumn,
    URLColumn,
    UsernameColumn,
    WordsColumn,
)

COLUMN_TYPES: dict[FieldType, type[Column]] = {
    FieldType.string: StringColumn,
    FieldType.text: WordsColumn,
    FieldType.lorem: WordsColumn,
    FieldType.integer: IntegerColumn,
    FieldType.float: FloatColumn,
    FieldType.decimal: DecimalColumn,
    FieldType.boolean: BooleanColumn,
    FieldType.date: DateColumn,
    FieldType.datetime: DatetimeColumn,
    FieldType.uuid: UUIDColumn,
    FieldType.email: EmailColumn,
    FieldType.name: NameColumn,
    FieldType.first_name: PoolColumn,
    FieldType.last_name: PoolColumn,
    FieldType.phone: PatternColumn,
    FieldType.address: AddressColumn,
    FieldType.city: PoolColumn,
    FieldType.country: PoolColumn,
    FieldType.company: PoolColumn,
    FieldType.job_title: PoolColumn,
    FieldType.url: URLColumn,
    FieldType.username: UsernameColumn,
    FieldType.ip_address: IPAddressColumn,
    FieldType.user_agent: PoolColumn,
    FieldType.airport: PoolColumn,
    FieldType.currency: PoolColumn,
    FieldType.color: PoolColumn,
    FieldType.car_make: PoolColumn,
    FieldType.car_model: PoolColumn,
    FieldType.country_code: PoolColumn,
    FieldType.postal_code: PoolColumn,
    FieldType.state: PoolColumn,
    FieldType.title_: TitleColumn,
    FieldType.choice: ChoiceColumn,
    FieldType.pattern: PatternColumn,
    FieldType.reference: ReferenceColumn,
}


def make_column(spec: FieldSpec, locale: str) -> Column:
    """The generator for a field; ColumnError when its constraints make no sense."""
    return COLUMN_TYPES[spec.type](spec, locale)
