export * from './sign-aqueduct-request';
export * from './aqueduct-event.factory';
export * from './post-aqueduct-event';
export * from './aqueduct-test-clock';
export * from './wait-for-deliveries';
