/** Flotilla's release version; a test keeps it equal to package.json's (bundles cannot read package.json). */
export const FLOTILLA_VERSION = '0.1.0';
