import { useBackend } from './backend.js';

await useBackend();
