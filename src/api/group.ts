// The names users, docs and tests agree on (see the brief). Changing any of
// these is a breaking API change.
export const GROUP = 'tensorfleet.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ModelDeployment';
export const LIST_KIND = 'ModelDeploymentList';
export const PLURAL = 'modeldeployments';
export const SINGULAR = 'modeldeployment';
export const SHORT_NAMES = ['md'] as const;
export const CATEGORIES = ['tensorfleet'] as const;
export const CRD_NAME = `${PLURAL}.${GROUP}`;
