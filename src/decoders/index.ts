/**
 * Decoders: MAE pixel decoder, SimMIM linear pixel-shuffle decoder, BEiT token head.
 * @module decoders
 */
export { PixelDecoder, type PixelDecoderConfig, type ResolvedPixelDecoderConfig, type PixelDecoderForwardOptions } from './pixel_decoder.js';
export { LinearPixelShuffleDecoder, pixelShuffle, type LinearPixelShuffleDecoderConfig } from './pixel_shuffle.js';
export { TokenHead, type TokenHeadConfig } from './token_head.js';
