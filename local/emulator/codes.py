"""The refusals the emulator answers with, each as a legacy result code and an API 3.0 error code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rejection:
    """One reason to refuse a request or a number, in both protocols' words."""

    legacy: int
    code: str
    message: str


class Rejected(Exception):
    """Raised inside request handling; the protocol adapter turns it into an error answer."""

    def __init__(self, rejection: Rejection, detail: str = "") -> None:
        super().__init__(detail or rejection.message)
        self.rejection = rejection
        self.detail = detail or rejection.message


SIGNATURE_MESSAGE = "The provided credentials could not be validated. Please check your signature is correct."

# Authentication and transport.
SIG_FAIL = Rejection(1001, "AuthFailure.SignatureFailure", "sig verification failed")
SIG_MISSING = Rejection(1003, "InternalError.SigFieldMissing", "sig is missing or empty")
BAD_BODY = Rejection(1004, "FailedOperation.JsonParseFail", "the request body could not be parsed")
NO_SUCH_OP = Rejection(1011, "InvalidAction", "no such REST interface")
NO_APP = Rejection(1019, "InvalidParameterValue.SdkAppIdNotExist", "the sdkappid does not exist")
STALE_TIME = Rejection(1021, "AuthFailure.SignatureExpire", "request time is more than 10 minutes off")

# Sending rules.
SIGN = Rejection(
    1012,
    "FailedOperation.SignatureIncorrectOrUnapproved",
    "the signature is missing, malformed or not approved",
)
TEMPLATE = Rejection(
    1014,
    "FailedOperation.TemplateIncorrectOrUnapproved",
    "the template is not approved or the content does not match it",
)
PARAM_COUNT = Rejection(
    1014,
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
    "request content does not match the template content",
)
MAINLAND_TEMPLATE_TO_GLOBAL = Rejection(
    1014,
    "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone",
    "a Chinese-mainland template cannot be sent to an international number",
)
GLOBAL_TEMPLATE_TO_MAINLAND = Rejection(
    1014,
    "UnsupportedOperation.GlobalTemplateToChineseMainlandPhone",
    "an international template cannot be sent to a Chinese-mainland number",
)
BAD_NUMBER = Rejection(1016, "InvalidParameterValue.IncorrectPhoneNumber", "the phone number format is wrong")
THIRTY_SECOND_LIMIT = Rejection(
    1023, "LimitExceeded.PhoneNumberThirtySecondLimit", "the number reached its 30-second limit"
)
ONE_HOUR_LIMIT = Rejection(
    1024, "LimitExceeded.PhoneNumberOneHourLimit", "the number reached its 1-hour limit"
)
DAILY_LIMIT = Rejection(1025, "LimitExceeded.PhoneNumberDailyLimit", "the number reached its daily limit")
MIXED_NUMBERS = Rejection(
    1034,
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
    "one request cannot mix Chinese-mainland and international numbers",
)
PARAM_TOO_LONG = Rejection(
    1036, "InvalidParameterValue.TemplateParameterLengthLimit", "a template parameter is too long"
)
TOO_MANY_NUMBERS = Rejection(
    1046, "LimitExceeded.PhoneNumberCountLimit", "more than 200 numbers in one request"
)
EMPTY_NUMBERS = Rejection(1004, "MissingParameter.EmptyPhoneNumberSet", "the phone number list is empty")
URL_IN_PARAM = Rejection(
    1048,
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
    "URLs are not allowed in template parameters",
)

# Pull parameters.
BAD_LIMIT = Rejection(1004, "InvalidParameterValue.LimitVerifyFail", "max/Limit must be between 1 and 100")
BAD_OFFSET = Rejection(1004, "InvalidParameterValue.OffsetVerifyFail", "Offset must be 0")
BAD_BEGIN_TIME = Rejection(
    1004, "InvalidParameterValue.BeginTimeVerifyFail", "BeginTime must be at most 7 days back"
)
BAD_END_TIME = Rejection(
    1004, "InvalidParameterValue.EndTimeVerifyFail", "EndTime must not precede BeginTime"
)

# API 3.0 envelope and authentication (the legacy number is the nearest legacy meaning).
INVALID_AUTHORIZATION = Rejection(
    1001, "AuthFailure.InvalidAuthorization", "the Authorization header is malformed"
)
SECRET_ID_NOT_FOUND = Rejection(1001, "AuthFailure.SecretIdNotFound", "the SecretId does not exist")
SIGNATURE_FAILURE = Rejection(1001, "AuthFailure.SignatureFailure", SIGNATURE_MESSAGE)
SIGNATURE_EXPIRE = Rejection(
    1021, "AuthFailure.SignatureExpire", "the signature expired: X-TC-Timestamp is off"
)
TOKEN_FAILURE = Rejection(1001, "AuthFailure.TokenFailure", "the session token is invalid")
MISSING_PARAMETER = Rejection(1004, "MissingParameter", "a required parameter is missing")
INVALID_PARAMETER = Rejection(1004, "InvalidParameter", "a parameter has the wrong type")
INVALID_PARAMETER_VALUE = Rejection(1004, "InvalidParameterValue", "a parameter has a wrong value")
NO_SUCH_VERSION = Rejection(1030, "NoSuchVersion", "the API version does not exist")
APP_NOT_OWNED = Rejection(
    1019, "UnauthorizedOperation.SmsSdkAppIdVerifyFail", "the SmsSdkAppId does not belong to this key"
)
