export * from './sign-aqueduct-request';
export * from './aqueduct-event.factory';
