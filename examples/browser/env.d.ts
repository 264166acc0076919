// Vite's client types: `import url from './file?url'` is a string.
/// <reference types="vite/client" />
