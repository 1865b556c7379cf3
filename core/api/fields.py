"""Serializer fields that take JSON types as they are: DRF's defaults also accept "true", 0 or
"12" for booleans and numbers, and numbers for strings, which the schema does not allow."""

from collections.abc import Mapping

from rest_framework import serializers


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictURLField(serializers.URLField, StrictCharField):
    pass


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class CarshopModelSerializer(serializers.ModelSerializer):
    """Base ModelSerializer of the API: model fields map to the strict fields above."""

    # A body with a field the serializer does not take (misspelt, or read-only) is refused with
    # the field named, never silently dropped (the schema's request bodies say
    # additionalProperties: false: core.api.schema.close_request_bodies).

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
    }
    # What to say of a field the serializer does not take, when more helpful than "Unknown field."
    unknown_field_messages: dict[str, str] = {}

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = {}
            for name in data:
                field = self.fields.get(name)
                if field is None:
                    unknown[str(name)] = [self.unknown_field_messages.get(name, "Unknown field.")]
                elif field.read_only:
                    unknown[str(name)] = ["This field is read-only."]
            if unknown:
                raise serializers.ValidationError(unknown)
        return super().to_internal_value(data)


_mapping = CarshopModelSerializer.serializer_field_mapping
for _model_field, _serializer_field in list(_mapping.items()):
    if _serializer_field is serializers.BooleanField:
        _mapping[_model_field] = StrictBooleanField
    elif _serializer_field is serializers.CharField:
        _mapping[_model_field] = StrictCharField
    elif _serializer_field is serializers.URLField:
        _mapping[_model_field] = StrictURLField
    elif _serializer_field is serializers.IntegerField:
        _mapping[_model_field] = StrictIntegerField


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related row by id, given as a JSON number (not "12"). A row outside the field's
    queryset is answered like one that does not exist."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= data <= 2**63 - 1:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)
