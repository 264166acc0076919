export { PixelDecoder, type PixelDecoderConfig, type PixelDecoderForwardOptions } from './pixel_decoder.js';
