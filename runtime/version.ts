/** Version of the runtime library, reported in logs. */
export const VERSION = '0.1.0';
