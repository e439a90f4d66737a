"""Tagsight's exceptions, and Azure's error codes.

The tree (each class fixes the HTTP status that ``api/errors.py`` answers with)::

    TagsightError                 500  something failed on our side
    ├── BadRequest                400  the request is invalid; nothing was changed
    ├── Unauthorized              401  missing or wrong key
    ├── Forbidden                 403
    ├── NotFound                  404  an id that does not exist (in this project)
    ├── Conflict                  409
    ├── PayloadTooLarge           413
    └── UnsupportedMediaType      415

Services raise these with an ``ErrorCode``; only ``api/errors.py`` turns them into the
``{"code", "message"}`` body. Nothing here imports FastAPI.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "BadRequest",
    "Conflict",
    "ErrorCode",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "TagsightError",
    "Unauthorized",
    "UnsupportedMediaType",
]


class ErrorCode(StrEnum):
    """``CustomVisionErrorCodes`` from Azure's Training API specification, verbatim."""

    NoError = "NoError"
    # Not in the specification: the API gateway's answer to a missing or wrong key.
    Unauthorized = "Unauthorized"
    BadRequest = "BadRequest"
    BadRequestExceededBatchSize = "BadRequestExceededBatchSize"
    BadRequestNotSupported = "BadRequestNotSupported"
    BadRequestInvalidIds = "BadRequestInvalidIds"
    BadRequestProjectName = "BadRequestProjectName"
    BadRequestProjectNameNotUnique = "BadRequestProjectNameNotUnique"
    BadRequestProjectDescription = "BadRequestProjectDescription"
    BadRequestProjectUnknownDomain = "BadRequestProjectUnknownDomain"
    BadRequestProjectUnknownClassification = "BadRequestProjectUnknownClassification"
    BadRequestProjectUnsupportedDomainTypeChange = "BadRequestProjectUnsupportedDomainTypeChange"
    BadRequestProjectUnsupportedExportPlatform = "BadRequestProjectUnsupportedExportPlatform"
    BadRequestProjectImagePreprocessingSettings = "BadRequestProjectImagePreprocessingSettings"
    BadRequestProjectDuplicated = "BadRequestProjectDuplicated"
    BadRequestIterationName = "BadRequestIterationName"
    BadRequestIterationNameNotUnique = "BadRequestIterationNameNotUnique"
    BadRequestIterationDescription = "BadRequestIterationDescription"
    BadRequestIterationIsNotTrained = "BadRequestIterationIsNotTrained"
    BadRequestIterationValidationFailed = "BadRequestIterationValidationFailed"
    BadRequestWorkspaceCannotBeModified = "BadRequestWorkspaceCannotBeModified"
    BadRequestWorkspaceNotDeletable = "BadRequestWorkspaceNotDeletable"
    BadRequestTagName = "BadRequestTagName"
    BadRequestTagNameNotUnique = "BadRequestTagNameNotUnique"
    BadRequestTagDescription = "BadRequestTagDescription"
    BadRequestTagType = "BadRequestTagType"
    BadRequestMultipleNegativeTag = "BadRequestMultipleNegativeTag"
    BadRequestMultipleGeneralProductTag = "BadRequestMultipleGeneralProductTag"
    BadRequestImageTags = "BadRequestImageTags"
    BadRequestImageRegions = "BadRequestImageRegions"
    BadRequestNegativeAndRegularTagOnSameImage = "BadRequestNegativeAndRegularTagOnSameImage"
    BadRequestUnsupportedDomain = "BadRequestUnsupportedDomain"
    BadRequestRequiredParamIsNull = "BadRequestRequiredParamIsNull"
    BadRequestIterationIsPublished = "BadRequestIterationIsPublished"
    BadRequestInvalidPublishName = "BadRequestInvalidPublishName"
    BadRequestInvalidPublishTarget = "BadRequestInvalidPublishTarget"
    BadRequestUnpublishFailed = "BadRequestUnpublishFailed"
    BadRequestIterationNotPublished = "BadRequestIterationNotPublished"
    BadRequestSubscriptionApi = "BadRequestSubscriptionApi"
    BadRequestExceedProjectLimit = "BadRequestExceedProjectLimit"
    BadRequestExceedIterationPerProjectLimit = "BadRequestExceedIterationPerProjectLimit"
    BadRequestExceedTagPerProjectLimit = "BadRequestExceedTagPerProjectLimit"
    BadRequestExceedTagPerImageLimit = "BadRequestExceedTagPerImageLimit"
    BadRequestExceededQuota = "BadRequestExceededQuota"
    BadRequestCannotMigrateProjectWithName = "BadRequestCannotMigrateProjectWithName"
    BadRequestNotLimitedTrial = "BadRequestNotLimitedTrial"
    BadRequestImageBatch = "BadRequestImageBatch"
    BadRequestImageStream = "BadRequestImageStream"
    BadRequestImageUrl = "BadRequestImageUrl"
    BadRequestImageFormat = "BadRequestImageFormat"
    BadRequestImageSizeBytes = "BadRequestImageSizeBytes"
    BadRequestImageDimensions = "BadRequestImageDimensions"
    BadRequestImageAspectRatio = "BadRequestImageAspectRatio"
    BadRequestImageExceededCount = "BadRequestImageExceededCount"
    BadRequestTrainingNotNeeded = "BadRequestTrainingNotNeeded"
    BadRequestTrainingNotNeededButTrainingPipelineUpdated = (
        "BadRequestTrainingNotNeededButTrainingPipelineUpdated"
    )
    BadRequestTrainingValidationFailed = "BadRequestTrainingValidationFailed"
    BadRequestClassificationTrainingValidationFailed = "BadRequestClassificationTrainingValidationFailed"
    BadRequestMultiClassClassificationTrainingValidationFailed = (
        "BadRequestMultiClassClassificationTrainingValidationFailed"
    )
    BadRequestMultiLabelClassificationTrainingValidationFailed = (
        "BadRequestMultiLabelClassificationTrainingValidationFailed"
    )
    BadRequestDetectionTrainingValidationFailed = "BadRequestDetectionTrainingValidationFailed"
    BadRequestTrainingAlreadyInProgress = "BadRequestTrainingAlreadyInProgress"
    BadRequestDetectionTrainingNotAllowNegativeTag = "BadRequestDetectionTrainingNotAllowNegativeTag"
    BadRequestInvalidEmailAddress = "BadRequestInvalidEmailAddress"
    BadRequestRetiredDomainNotSupportedForTraining = "BadRequestRetiredDomainNotSupportedForTraining"
    BadRequestDomainNotSupportedForAdvancedTraining = "BadRequestDomainNotSupportedForAdvancedTraining"
    BadRequestExportPlatformNotSupportedForAdvancedTraining = (
        "BadRequestExportPlatformNotSupportedForAdvancedTraining"
    )
    BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining = (
        "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining"
    )
    BadRequestCustomBaseModelIterationStatusNotCompleted = (
        "BadRequestCustomBaseModelIterationStatusNotCompleted"
    )
    BadRequestCustomBaseModelDomainNotCompatible = "BadRequestCustomBaseModelDomainNotCompatible"
    BadRequestCustomBaseModelArchitectureRetired = "BadRequestCustomBaseModelArchitectureRetired"
    BadRequestExportValidationFailed = "BadRequestExportValidationFailed"
    BadRequestExportAlreadyInProgress = "BadRequestExportAlreadyInProgress"
    BadRequestPredictionIdsMissing = "BadRequestPredictionIdsMissing"
    BadRequestPredictionIdsExceededCount = "BadRequestPredictionIdsExceededCount"
    BadRequestPredictionTagsExceededCount = "BadRequestPredictionTagsExceededCount"
    BadRequestPredictionResultsExceededCount = "BadRequestPredictionResultsExceededCount"
    BadRequestPredictionInvalidApplicationName = "BadRequestPredictionInvalidApplicationName"
    BadRequestPredictionInvalidQueryParameters = "BadRequestPredictionInvalidQueryParameters"
    BadRequestInvalidImportToken = "BadRequestInvalidImportToken"
    BadRequestExportWhileTraining = "BadRequestExportWhileTraining"
    BadRequestImageMetadataKey = "BadRequestImageMetadataKey"
    BadRequestImageMetadataValue = "BadRequestImageMetadataValue"
    BadRequestOperationNotSupported = "BadRequestOperationNotSupported"
    BadRequestInvalidArtifactUri = "BadRequestInvalidArtifactUri"
    BadRequestCustomerManagedKeyRevoked = "BadRequestCustomerManagedKeyRevoked"
    BadRequestInvalidUri = "BadRequestInvalidUri"
    BadRequestInvalid = "BadRequestInvalid"
    UnsupportedMediaType = "UnsupportedMediaType"
    Forbidden = "Forbidden"
    ForbiddenUser = "ForbiddenUser"
    ForbiddenUserResource = "ForbiddenUserResource"
    ForbiddenUserSignupDisabled = "ForbiddenUserSignupDisabled"
    ForbiddenUserSignupAllowanceExceeded = "ForbiddenUserSignupAllowanceExceeded"
    ForbiddenUserDoesNotExist = "ForbiddenUserDoesNotExist"
    ForbiddenUserDisabled = "ForbiddenUserDisabled"
    ForbiddenUserInsufficientCapability = "ForbiddenUserInsufficientCapability"
    ForbiddenDRModeEnabled = "ForbiddenDRModeEnabled"
    ForbiddenInvalid = "ForbiddenInvalid"
    NotFound = "NotFound"
    NotFoundProject = "NotFoundProject"
    NotFoundProjectDefaultIteration = "NotFoundProjectDefaultIteration"
    NotFoundIteration = "NotFoundIteration"
    NotFoundIterationPerformance = "NotFoundIterationPerformance"
    NotFoundTag = "NotFoundTag"
    NotFoundImage = "NotFoundImage"
    NotFoundDomain = "NotFoundDomain"
    NotFoundApimSubscription = "NotFoundApimSubscription"
    NotFoundInvalid = "NotFoundInvalid"
    Conflict = "Conflict"
    ConflictInvalid = "ConflictInvalid"
    ErrorUnknown = "ErrorUnknown"
    ErrorIterationCopyFailed = "ErrorIterationCopyFailed"
    ErrorPreparePerformanceMigrationFailed = "ErrorPreparePerformanceMigrationFailed"
    ErrorProjectInvalidWorkspace = "ErrorProjectInvalidWorkspace"
    ErrorProjectInvalidPipelineConfiguration = "ErrorProjectInvalidPipelineConfiguration"
    ErrorProjectInvalidDomain = "ErrorProjectInvalidDomain"
    ErrorProjectTrainingRequestFailed = "ErrorProjectTrainingRequestFailed"
    ErrorProjectImportRequestFailed = "ErrorProjectImportRequestFailed"
    ErrorProjectExportRequestFailed = "ErrorProjectExportRequestFailed"
    ErrorFeaturizationServiceUnavailable = "ErrorFeaturizationServiceUnavailable"
    ErrorFeaturizationQueueTimeout = "ErrorFeaturizationQueueTimeout"
    ErrorFeaturizationInvalidFeaturizer = "ErrorFeaturizationInvalidFeaturizer"
    ErrorFeaturizationAugmentationUnavailable = "ErrorFeaturizationAugmentationUnavailable"
    ErrorFeaturizationUnrecognizedJob = "ErrorFeaturizationUnrecognizedJob"
    ErrorFeaturizationAugmentationError = "ErrorFeaturizationAugmentationError"
    ErrorExporterInvalidPlatform = "ErrorExporterInvalidPlatform"
    ErrorExporterInvalidFeaturizer = "ErrorExporterInvalidFeaturizer"
    ErrorExporterInvalidClassifier = "ErrorExporterInvalidClassifier"
    ErrorPredictionServiceUnavailable = "ErrorPredictionServiceUnavailable"
    ErrorPredictionModelNotFound = "ErrorPredictionModelNotFound"
    ErrorPredictionModelNotCached = "ErrorPredictionModelNotCached"
    ErrorPrediction = "ErrorPrediction"
    ErrorPredictionStorage = "ErrorPredictionStorage"
    ErrorRegionProposal = "ErrorRegionProposal"
    ErrorUnknownBaseModel = "ErrorUnknownBaseModel"
    ErrorServerTimeOut = "ErrorServerTimeOut"
    ErrorInvalid = "ErrorInvalid"


class TagsightError(Exception):
    """Base class: an error the user should see, with an Azure code and a sentence."""

    status = 500

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BadRequest(TagsightError):
    """The request is invalid; nothing was changed."""

    status = 400


class Unauthorized(TagsightError):
    """The key is missing or wrong."""

    status = 401


class Forbidden(TagsightError):
    """The key is valid but may not do this."""

    status = 403


class NotFound(TagsightError):
    """A referenced object does not exist."""

    status = 404


class Conflict(TagsightError):
    """The request conflicts with the current state."""

    status = 409


class PayloadTooLarge(TagsightError):
    """The request body is over the size limit."""

    status = 413


class UnsupportedMediaType(TagsightError):
    """The body is not in a format this operation accepts."""

    status = 415
